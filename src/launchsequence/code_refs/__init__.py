"""`launchseq code-refs`: find where a project's flag keys appear in a repository's code, and
upload that to the server. Runs where the code is (CI, a developer's machine) with only the
server's package installed: it imports nothing of the store, the services or the database."""
