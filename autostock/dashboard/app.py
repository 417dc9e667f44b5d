"""The Streamlit entry script of ``autostock dashboard`` (run by ``streamlit run``).

Settings come from the environment the command sets: ``AUTOSTOCK_DASHBOARD_STATE`` (state
database), ``AUTOSTOCK_DASHBOARD_REPORTS`` (report folder) and ``AUTOSTOCK_DASHBOARD_REFRESH``
(seconds between live refreshes).
"""

from __future__ import annotations

import streamlit as st

from autostock.dashboard.data import register_env_secrets
from autostock.dashboard.pages import PAGES, Settings

register_env_secrets()
st.set_page_config(page_title="autostock", layout="wide")
settings = Settings.from_env()
st.sidebar.title("autostock")
page = st.sidebar.radio("Page", list(PAGES), key="page")
st.sidebar.caption(f"state: {settings.state}")
st.sidebar.caption(f"reports: {settings.reports}")
PAGES[page](settings)
