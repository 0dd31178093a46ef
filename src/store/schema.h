/*
 * schema.h - numbered schema migrations (schema.c).
 */
#ifndef CM_SCHEMA_H
#define CM_SCHEMA_H

/* "CMDB": PRAGMA application_id of a certmint database. */
#define SCHEMA_APPLICATION_ID	0x434d4442

int		 schema_latest(void);
/* The SQL taking the schema from version-1 to version; NULL if none. */
const char	*schema_migration(int version);

#endif /* CM_SCHEMA_H */
