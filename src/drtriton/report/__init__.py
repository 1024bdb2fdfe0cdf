"""Human-readable results: rich tables for the terminal, markdown/HTML reports with plots, CSV.

    from drtriton.report.kernelbench import write_reports
"""
