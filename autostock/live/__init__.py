"""Paper and live trading on Alpaca: store, broker, data feed, state, safety rules.

Everything here runs on alpaca-py; import the submodules you need (``store``, ``broker``,
``data``, ``runner``). Importing this package does not import alpaca-py.
"""
