"""``thuisplus serve``: the live agenda and the signal register as a small web page."""
