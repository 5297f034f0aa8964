"""``spo --help`` as Typer prints it at 80 columns, so the top-level help needs no Typer.

Generated: ``SPO_NO_FAST_PATH=1 COLUMNS=80 spo --help``; ``tests/cli/test_help.py`` fails with
the fresh text whenever a command or option changes, to be pasted here.
"""

TOP_HELP = """\
Usage: spo [OPTIONS] COMMAND [ARGS]...

  Keep on top of every Stalking Protection Order you manage.

  Example: spo --db caseload.db subject list

Options:
  --db PATH|URL       SQLite file or SQLAlchemy URL. Default: $SPO_DB, else
                      ~/.local/share/spo-tracker/spo.db.
  --as USER           Acting user for the audit trail. Default: $SPO_USER,
                      else the OS user.
  --policy FILE|NAME  Policy file, or the name of a shipped one. Default:
                      $SPO_POLICY, else west-yorkshire.
  --config FILE       Settings file (TOML). Default: $SPO_CONFIG.
  --version           Show the version.
  --help              Show this message and exit.

Commands:
  allocate      Allocate a subject to an offender manager from a date...
  due           What is due: overdue actions and those due within 14...
  explain       Why an action is due: the trigger, the arithmetic, the...
  plan          A subject's whole timeline of deadlines, from overdue to...
  recompute     Recompute and store deadlines (after a policy change, or...
  backup        A consistent online copy of the SQLite database (safe...
  restore       Restore the database from a backup; refuses to replace...
  doctor        Check permissions, migrations and the quality of the record.
  run           The service: queue and send reminders, escalations,...
  status        The service's health: last sweep and delivery, queue...
  serve         Serve the calendar feeds over HTTP until interrupted.
  init          Create the database, or bring its schema up to date.
  show          Show a subject's details and whole timeline.
  import        Import a whole record (officers and subjects) from JSON:...
  export        Export the whole record as one JSON document (format...
  audit         Show the audit trail: who changed what and when, with...
  officer       Officers: offender managers, supervisors, the SCU.
  subject       Subjects: the people SPOs are made against.
  order         Orders: interim and full SPOs.
  condition     An order's prohibitions and requirements.
  renewal       Renewal submissions and decisions not to renew.
  visit         Visits to subjects.
  breach        Breaches (s8) and failures to notify (s11).
  notification  Notifications of names and address by the subject (s9).
  flag          'Notify if' flags and their reviews.
  transfer      Moves into and out of the force area.
  review        Supervisor reviews of the Subject Management Pack.
  smp           Subject Management Plans.
  db            Database schema management.
  action        Complete, re-date or waive a derived action.
  policy        The deadline policy in force.
  report        Reports for supervisors and the SCU.
  retention     Retention of records after orders end.
  outbox        The email outbox: list (spo outbox), retry.
  mail          Email templates.
  calendar      Calendar files and token-protected subscription feeds.
"""
