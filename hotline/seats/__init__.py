"""Seats (坐席): the seat's own page, seat actions and the seat's websocket."""
