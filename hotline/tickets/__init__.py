"""Tickets (工单): the model, the lifecycle, deadlines in working days, the store, units, HTTP."""
