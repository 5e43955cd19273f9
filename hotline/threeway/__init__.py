"""Three-way calls (三方通话) with handling units: service (AMI), records (database), HTTP."""
