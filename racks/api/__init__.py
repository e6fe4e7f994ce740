"""The REST API of racks, organizations and accounts."""
