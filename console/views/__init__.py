"""The dashboard pages: thin views that read what a person may see and call the rack's
driver for what they ask it to do."""
