"""Database access: where the database is (`location`), pooled connections (`pool`), and
queries run as a principal under Row Level Security (`scoped`)."""
