"""The peer team roster: designation, training and availability, kept by coordinators and agency
admins; it decides who is called out and who can be assigned (docs/roster.md). Models stay in
agencies/models.py (SupporterProfile, Certification).

    selectors.py  readiness (and why not), whether the quarterly confirmation is due
    services.py   profile and certification writes, the confirmation and its reminder
    imports.py    the CSV import: every row checked, nothing applied unless all are good
    forms.py, views.py  the roster pages and the mutual-aid directory
"""
