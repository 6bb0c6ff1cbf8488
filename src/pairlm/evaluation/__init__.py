"""pairlm.evaluation"""
