"""Code the tests share: real parts (Asterisk, sipp phones), waiting, browsers, per-feature set-ups.

No test module imports another test module (tests/unit/test_architecture.py checks it); what two tests need
lives here.
"""
