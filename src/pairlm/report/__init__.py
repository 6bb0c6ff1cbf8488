"""pairlm.report"""
