"""The session's programme: B2B meetings scheduled into slots x tables, and printable agendas.

Pure code (no Kafka, no store, no web framework): ``scheduling`` places meetings, ``agenda``
renders a participant's or a table's agenda as an HTML page from plain data, ``outcomes`` says
what both parties of a meeting agreed.
"""
