"""The demo: `make demo`, or `python -m demo.run` from the checkout's root."""
