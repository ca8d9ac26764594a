"""One module per schema revision, oldest first: 0001 core records, 0002 follow-up records."""
