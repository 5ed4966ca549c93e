"""Each finding of the security review replayed as an attack, with the refusal asserted."""
