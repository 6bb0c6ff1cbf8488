"""pairlm.models"""
