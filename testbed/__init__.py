"""The study: scenario files, building and running a world, results, KPIs."""
