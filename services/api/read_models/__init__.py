"""SQL over the projection tables that the API serves. The projections write these tables; only the API reads them."""
