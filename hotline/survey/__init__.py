"""Satisfaction survey results and call-back requests, written by the IVR (ivr/server.py)."""
