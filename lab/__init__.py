"""The lab: the demo district answering over real protocols on its 127.x addresses."""
