"""The profiles service: international students' profiles, owned and published here."""
