"""A handling unit's side (承办单位): its login's page, its own tickets as the unit view shows them."""
