"""The detection content as data: rules, tuning profile, placeholders, image references, mappings,
corpus, fixtures."""
