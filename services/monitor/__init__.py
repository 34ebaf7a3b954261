"""The organizer's live monitor: a session's matches, figures and stuck demands as they happen.

``projection`` folds events into per-session boards (pure, no Kafka); ``feed`` reads the topics
into it; ``hub`` turns changed boards into numbered updates for server-sent events; ``routes``
serves the page, the stream and the login.
"""
