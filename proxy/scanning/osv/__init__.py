"""OSV vulnerability data: records (`record`), their import from OSV exports (`importer`),
whether a package is affected and how severely (`match`), and matching whole inventories
against the stored database (`matcher`)."""
