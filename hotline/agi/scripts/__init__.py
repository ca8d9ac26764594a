"""The hotline's AGI scripts, one module per C{agi_network_script} name (inbound, callback, survey).

Each module defines one C{async def} named like the script and registers it explicitly on the
L{hotline.agi.routes.RouteTable} it is given; nothing here is discovered by listing the folder.
"""
