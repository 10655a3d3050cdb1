"""slipway's demo app: a card store with a JSON API, a render worker and a frontend."""
