"""The demo district (示范辖区): 鄞州区 → 百丈街道 → 划船社区 and 七塔社区.

Shipped as ``community365.demo_district``: ``district.toml`` and the CSV ledgers (台账)
that ``c365 demo`` imports. The people are invented; the shape follows the 365 practice
of 划船社区 (grids with A/B grid workers, grid leaders, many elders, volunteers, a
mediation team and a property company). ``generate.py`` writes the CSVs, deterministically.
"""
