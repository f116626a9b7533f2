"""Small problems with exact answers: recovery checks for every method."""
