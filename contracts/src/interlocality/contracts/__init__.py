"""Wire contracts of Interlocality: the CloudEvents envelope, event models, the topic list."""
