-- examples/chat_history: every chat message, per room. What Django would create for
--   class Message(models.Model):
--       room = models.CharField(max_length=100)
--       user = models.ForeignKey(User, null=True, on_delete=models.SET_NULL)
--       username = models.CharField(max_length=150)
--       message = models.TextField()
--       created = models.DateTimeField(auto_now_add=True)
--       class Meta: indexes = [models.Index(fields=["room", "id"])]
-- Idempotent: scripts/pg-cluster applies it on every start.
CREATE TABLE IF NOT EXISTS chat_history_message (
    id bigserial NOT NULL PRIMARY KEY,
    room varchar(100) NOT NULL,
    user_id integer NULL REFERENCES auth_user (id) ON DELETE SET NULL DEFERRABLE INITIALLY DEFERRED,
    username varchar(150) NOT NULL,
    message text NOT NULL,
    created timestamp with time zone NOT NULL DEFAULT now()
);
CREATE INDEX IF NOT EXISTS chat_history_message_room_id ON chat_history_message (room, id);
