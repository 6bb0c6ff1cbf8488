"""pairlm.experiments"""
