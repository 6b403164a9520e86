"""Recommender scenario: interactions data, factor models, ranking metrics, batch top-K."""
