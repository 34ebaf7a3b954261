"""Reports for the Department of Industry and Trade: what a session, or a period across
sessions, produced (who took part, what was offered, the meetings, MoUs and contracts, the
confirmed matches and the demands left unmet), as JSON, XLSX and a printable A4 page.

Pure: ``model.build`` (plain documents in, a ``Report`` out) with ``tables`` (one function per
table), ``shapes`` (the report's dataclasses), ``facts`` (the platform's definitions it uses)
and ``labels`` (Vietnamese and English words); ``xlsx`` and ``html`` render a report. Not pure:
``loading`` reads the documents from the store.
"""
