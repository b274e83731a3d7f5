"""Source and sink factories: every Kafka and JDBC table the jobs declare comes from here,
with its delivery guarantee written out (DEVELOPERS.md "Known traps").

The Maven pom beside this file resolves the connector jars these DDLs need.
"""
