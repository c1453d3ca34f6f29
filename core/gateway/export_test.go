package gateway

// TrimToBudget exposes trimToBudget to the external tests.
var TrimToBudget = trimToBudget
