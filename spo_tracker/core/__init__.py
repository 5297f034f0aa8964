"""The functional core: the record and its invariants, the policy, dates, the rules engine,
reminder stages and recipients, caseload scope. Pure: the standard library and date
libraries only, and never the clock."""
