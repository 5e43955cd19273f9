"""The demo: sipp phones as citizens and seats, driven against a real Asterisk."""
