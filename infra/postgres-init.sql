-- One database per service: no service reads another's tables.
CREATE DATABASE profiles OWNER interlocality;
CREATE DATABASE vacancies OWNER interlocality;
CREATE DATABASE matching OWNER interlocality;
CREATE DATABASE notifications OWNER interlocality;
CREATE DATABASE analytics OWNER interlocality;
