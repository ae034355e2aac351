"""The notifications service: turns matches into notifications for students."""
