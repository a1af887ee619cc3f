"""The Elastic target: Lucene regular expressions and Kibana detection rules."""
