"""The Streamlit monitor (``autostock dashboard``): the live account from the state database
(read-only; Halt is the only write) and every report folder autostock writes.

``data``, ``reports`` and ``divergence`` hold plain functions (no Streamlit) that the pages in
``pages`` draw; ``app`` is the script ``streamlit run`` executes.
"""
