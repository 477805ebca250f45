"""HTTP edge: parse requests, call one service, serialize. No SQL here."""
