"""The admin service's parts, one per concept; `proxy.gate.admin.AdminService` composes them.

Each part owns the consequences of its operations (invalidating the gate, bumping the
policy version, auditing the change), so no caller can forget one.
"""
