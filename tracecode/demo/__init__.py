"""``tracecode demo``: the whole pipeline on one machine, watched stage by stage, then a report.

``tracecode.stack`` brings the services up; :mod:`tracecode.demo.watch` says how far each stage
got; :mod:`tracecode.demo.report` reads the stores for the closing report.
"""
