"""Where bytes come from. Readers ask a source for byte ranges and never open paths themselves."""
