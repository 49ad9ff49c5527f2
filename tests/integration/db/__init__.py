"""The metadata database: engine tuning, migrations, integrity, concurrent writers."""
