"""The homes: devices, population, profiles, the uncontrolled home, the fleet, the CEMS."""
